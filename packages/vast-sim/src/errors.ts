/**
 * Vast's error bodies, in the shapes Vast sends them: `{success:false,error,msg}` with messages
 * like "error 404/3603: no_such_ask Instance type by id N is not available.".
 */
export interface VastErrorBody {
  success: false;
  error: string;
  msg: string;
  [extra: string]: unknown;
}

export class VastHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: VastErrorBody | string,
  ) {
    super(typeof body === "string" ? body : body.msg);
  }
}

export function vastError(status: number, error: string, msg: string, extra: Record<string, unknown> = {}) {
  return new VastHttpError(status, { success: false, error, msg, ...extra });
}

export const errors = {
  authError: () => vastError(401, "auth_error", "Invalid user key"),
  noSuchAsk: (askId: number) =>
    vastError(
      404,
      "no_such_ask",
      `error 404/3603: no_such_ask Instance type by id ${askId} is not available.`,
      {
        ask_id: askId,
      },
    ),
  askGone: (askId: number) =>
    vastError(410, "no_such_ask", `error 410/3907: Instance type by id ${askId} is no longer available.`, {
      ask_id: askId,
    }),
  noSuchInstance: (id: number) =>
    vastError(404, "no_such_instance", `error 404/3201: no_such_instance Instance ${id} not found.`),
  invalidArgs: (detail: string) => vastError(400, "invalid_args", `error 400/1782: Invalid args: ${detail}`),
  notAuthorized: (detail: string) => vastError(403, "not_authorized", `error 403/3586: ${detail}`),
  deprecatedList: () =>
    vastError(
      410,
      "deprecated_endpoint",
      "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
    ),
  serverError: () =>
    vastError(500, "server_error", "error 500/1000: Internal server error, please try again."),
};
