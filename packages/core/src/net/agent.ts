/**
 * The `node:https` agent for requests made on a user's behalf: its DNS lookup refuses blocked
 * addresses (see `guardedLookup`). Node skips the lookup for IP-literal hosts, so an agent alone
 * is not enough: `checkOutboundUrl` must run before every request, and `outboundRequestOptions`
 * pairs the two for a caller.
 */
import type { Agent as HttpAgent } from "node:http";
import { Agent, type AgentOptions } from "node:https";
import { guardedLookup, isGuardedLookup, type LookupFunction } from "./lookup";
import { DEFAULT_OUTBOUND_POLICY, type OutboundPolicy } from "./policy";

export interface GuardedAgentOptions extends Omit<AgentOptions, "lookup"> {
  policy: OutboundPolicy;
  /** Resolves names (default `dns.lookup`); tests map names to addresses without DNS. */
  resolver?: LookupFunction;
}

const policies = new WeakMap<HttpAgent, OutboundPolicy>();

export function guardedHttpsAgent({ policy, resolver, ...agentOptions }: GuardedAgentOptions): Agent {
  const agent = new Agent({ ...agentOptions, lookup: guardedLookup({ policy, resolver }) });
  policies.set(agent, policy);
  return agent;
}

/** The policy a `guardedHttpsAgent` was built with; undefined for any other agent. */
export function outboundPolicyOf(agent: HttpAgent): OutboundPolicy | undefined {
  return policies.get(agent);
}

export interface OutboundRequestOptions {
  /** The agent to send through (e.g. one trusting a test CA); a `guardedHttpsAgent` or a plain one. */
  agent?: HttpAgent;
  /** Default: the agent's own policy if it is a guarded agent, else the strict default. */
  policy?: OutboundPolicy;
}

/**
 * What each request needs to be safe: the policy for `checkOutboundUrl` and a guarded `lookup`
 * to put in the request options (a guarded agent's own lookup takes precedence and is guarded
 * too). Throws a `TypeError` (a wiring mistake, not a user's) for an agent whose own `lookup`
 * would bypass the guard, or for a guarded agent built with a different policy than `policy`.
 */
export function outboundRequestOptions(options: OutboundRequestOptions): {
  agent: HttpAgent | undefined;
  policy: OutboundPolicy;
  lookup: LookupFunction;
} {
  const { agent } = options;
  const agentPolicy = agent ? outboundPolicyOf(agent) : undefined;
  const ownLookup = (agent as { options?: { lookup?: unknown } } | undefined)?.options?.lookup;
  if (ownLookup !== undefined && !isGuardedLookup(ownLookup)) {
    throw new TypeError("the agent has its own DNS lookup, which would bypass the outbound address check");
  }
  if (options.policy && agentPolicy && !samePolicy(options.policy, agentPolicy)) {
    throw new TypeError("the agent was built with a different outbound policy than the one given");
  }
  const policy = options.policy ?? agentPolicy ?? DEFAULT_OUTBOUND_POLICY;
  return { agent, policy, lookup: guardedLookup({ policy }) };
}

function samePolicy(a: OutboundPolicy, b: OutboundPolicy): boolean {
  return (
    a === b ||
    (a.allowHosts.length === b.allowHosts.length && a.allowHosts.every((h, i) => h === b.allowHosts[i]))
  );
}
