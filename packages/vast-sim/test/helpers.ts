/** Test helpers: a simulator on a frozen clock, and a tiny fetch client that speaks Vast's wire format. */
import { startVastSim, type VastSim, type VastSimOptions } from "../src/index";

export interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown> & { [k: string]: unknown };
  headers: Headers;
}

/** A response as tests read it: the text, and its JSON when it is JSON (else `{}`). */
export async function toReply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: Reply["json"] = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (plain-text 429, HTML 502, log text)
  }
  return { status: res.status, text, json, headers: res.headers };
}

export function client(sim: VastSim, key: string | null = sim.apiKey) {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = { "content-type": "application/json", ...extraHeaders };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return await toReply(res);
  };
  return {
    call,
    search: (q: Record<string, unknown>) => call("POST", "/api/v0/bundles/", q),
    create: (askId: number, body: Record<string, unknown> = { image: "pytorch/pytorch:latest", disk: 20 }) =>
      call("PUT", `/api/v0/asks/${askId}/`, body),
    show: (id: number) => call("GET", `/api/v0/instances/${id}/?owner=me`),
    manage: (id: number, body: Record<string, unknown>) => call("PUT", `/api/v0/instances/${id}/`, body),
    destroy: (id: number) => call("DELETE", `/api/v0/instances/${id}/`, {}),
    list: (params: Record<string, unknown> = {}) => {
      const qs = Object.entries(params)
        .map(([k, v]) => `${k}=${encodeURIComponent(JSON.stringify(v))}`)
        .join("&");
      return call("GET", `/api/v1/instances/${qs ? `?${qs}` : ""}`);
    },
  };
}

export type SimClient = ReturnType<typeof client>;

/**
 * Starts a simulator whose clock stands still until a test moves it (`admin.advance`), without
 * SSH unless `ssh: true`, and an account-key client for it.
 */
export async function startFrozenSim(
  options: VastSimOptions = {},
): Promise<{ sim: VastSim; vast: SimClient }> {
  const sim = await startVastSim({ ssh: false, timeScale: 0, ...options });
  return { sim, vast: client(sim) };
}

export type Offer = Record<string, unknown> & { id: number; dph_total: number; gpu_name: string };
export type Instance = Record<string, unknown> & { id: number; actual_status: string | null };

export function offersOf(r: Reply): Offer[] {
  return r.json.offers as Offer[];
}

export function instanceOf(r: Reply): Instance {
  return r.json.instances as Instance;
}

/** First rentable offer id (cheapest of a model). */
export async function cheapestOffer(sim: VastSim, gpu = "RTX 4090"): Promise<Offer> {
  const r = await client(sim).search({ gpu_name: { eq: gpu }, order: [["dph_total", "asc"]], limit: 1 });
  const offer = offersOf(r)[0];
  if (!offer) throw new Error(`no ${gpu} offer`);
  return offer;
}
