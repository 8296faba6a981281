import { z } from 'zod';
import { AppError } from '../http/errors.ts';

/** Letters, digits, spaces and a little punctuation; what a portal shows in a list and a title. */
export const instanceNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.'#()-]*$/u, "use letters, digits, spaces and _ . ' # ( ) -, starting with a letter or digit");

/** What a user sends to create an instance: its name and, optionally, one of the plugin's templates. */
export function createRequestSchema(templateDescription?: string) {
  const template = z.string().min(1).max(40).optional();
  return z.strictObject({ name: instanceNameSchema, template: templateDescription === undefined ? template : template.describe(templateDescription) });
}

export interface TemplateChoice<T> {
  /** The plugin's configured templates by id. */
  templates: Record<string, T>;
  defaultTemplate: string;
  /** Where a client lists the templates, named in the error for an unknown one. */
  listedAt?: string;
}

/** The template a create asked for (or the default); an unknown id is a 400 TEMPLATE_UNKNOWN listing the ids there are. */
export function chosenTemplate<T>(choice: TemplateChoice<T>, requested: string | undefined): { id: string; template: T } {
  const id = requested ?? choice.defaultTemplate;
  const template = choice.templates[id];
  if (!template) {
    const hint = choice.listedAt === undefined ? '' : `; pick one from GET ${choice.listedAt}`;
    throw new AppError(400, 'TEMPLATE_UNKNOWN', 'Unknown template', `There is no template "${id}"${hint}`, { available: Object.keys(choice.templates) });
  }
  return { id, template };
}
