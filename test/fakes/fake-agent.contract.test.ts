import { agentContractSuite } from '../contracts/agent-contract-suite.ts';
import { startFakeAgents } from './fake-agents.ts';

agentContractSuite('fake agent (normal mode)', async () => {
  const fakes = await startFakeAgents();
  const agent = fakes.add();
  return { target: { baseUrl: agent.baseUrl, token: agent.token }, stop: () => fakes.close() };
});
