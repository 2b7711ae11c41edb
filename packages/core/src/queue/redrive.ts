/**
 * How many times each queue delivers a message before its dead-letter queue takes it. The SST
 * config reads these numbers, so the code's "last delivery" and the redrive policy agree; this
 * file imports nothing so the deployment config can load it alone.
 */
export const MAX_DELIVERIES = { provision: 5, push: 3 } as const satisfies Record<string, number>;
