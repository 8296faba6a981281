import { agentContractSuite } from '../contracts/agent-contract-suite.ts';
import { startReferenceAgent } from '../helpers/reference-agent.ts';

agentContractSuite('reference agent', async () => {
  const agent = await startReferenceAgent();
  return { target: { baseUrl: agent.baseUrl, token: agent.token }, stop: agent.stop };
});
