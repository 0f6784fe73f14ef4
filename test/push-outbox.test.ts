// The outbox contract (test/helpers/outbox-contract.ts), run against the in-memory outbox the worker's tests use.
import { createMemoryOutbox } from './helpers/memory-outbox.ts';
import { contractDevices, outboxContract } from './helpers/outbox-contract.ts';

outboxContract('in-memory', async () => createMemoryOutbox(contractDevices));
