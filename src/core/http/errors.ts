/**
 * Domain errors. Thrown anywhere, mapped to the API.md error envelope once, at the edge
 * (error-middleware.ts). Throw sites never log; the edge does, with the request id.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    /** The envelope's short `error` text. */
    readonly title: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(issues: ValidationIssue[], message = 'The request is not valid; see details.issues') {
    super(400, 'VALIDATION_FAILED', 'Validation failed', message, { issues });
  }
}

/** A well-formed request that cannot be done as asked, with a precise code. */
export class BadRequestError extends AppError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(400, code, 'Bad request', message, details);
  }
}

export class InvalidJsonError extends AppError {
  constructor() {
    super(400, 'INVALID_JSON', 'Invalid JSON', 'The request body is not valid JSON');
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'PAYLOAD_TOO_LARGE', 'Payload too large', `The request body is larger than the limit of ${limitBytes} bytes`, { limit_bytes: limitBytes });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(expected: string) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', `Send the body as ${expected}`, { expected });
  }
}

export class NotFoundError extends AppError {
  constructor(resource = 'route', id?: string) {
    super(404, 'NOT_FOUND', 'Not found', id === undefined ? `No such ${resource}` : `${resource} ${id} was not found`, { resource });
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(allowed: string[]) {
    super(405, 'METHOD_NOT_ALLOWED', 'Method not allowed', `Use one of: ${allowed.join(', ')}`, { allowed }, { Allow: allowed.join(', ') });
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'AUTH_TOKEN_MISSING', message = 'Send a valid bearer token in the Authorization header') {
    super(401, code, 'Unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'AUTH_INSUFFICIENT_PERMISSIONS', message = 'You do not have permission to do this') {
    super(403, code, 'Forbidden', message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(409, code, 'Conflict', message, details);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterS: number) {
    super(429, 'RATE_LIMIT_EXCEEDED', 'Too many requests', `Too many requests; retry in ${retryAfterS} s`, { retry_after: retryAfterS }, { 'Retry-After': String(retryAfterS) });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string, retryAfterS?: number) {
    super(503, code, 'Service unavailable', message, {}, retryAfterS === undefined ? {} : { 'Retry-After': String(retryAfterS) });
  }
}
