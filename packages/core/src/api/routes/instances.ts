/**
 * `/v1/instances`: the Vast instances carrying this system's label — list, read, stop, start,
 * terminate. Anything else on the account is "not found", exactly like an id that does not exist
 * (`jobs/instances.ts`). Terminating an instance a live job holds ends that attempt through the
 * teardown path (the job moves on to another GPU when it may). Stopping one a live job holds
 * makes the reaper end that attempt on its next run: a stopped instance still bills its disk.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  getOurInstance,
  listOurInstances,
  startOurInstance,
  stopOurInstance,
  terminateOurInstance,
} from "../../jobs";
import { type ApiEnv, requireApiKey } from "../auth";
import type { ApiDeps } from "../deps";
import { API_KEY_SECURITY, problemResponses } from "../openapi";
import { InstanceIdParamSchema } from "../params";
import {
  InstanceActionSchema,
  InstanceViewSchema,
  instanceView,
  TerminatedInstanceSchema,
} from "../views/instance-view";

export const InstanceListSchema = z
  .object({ instances: z.array(InstanceViewSchema) })
  .openapi("InstanceList");
export type InstanceList = z.infer<typeof InstanceListSchema>;

const VAST_PROBLEMS = [429, 502, 503, 504] as const;

export function registerInstanceRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const base = {
    tags: ["instances"],
    security: API_KEY_SECURITY,
    middleware: requireApiKey(deps),
  };

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/instances",
      summary: "List our instances",
      description:
        "Every instance on the Vast account that carries this system's label (one paged list call).",
      responses: {
        200: {
          description: "Our instances.",
          content: { "application/json": { schema: InstanceListSchema } },
        },
        ...problemResponses(401, 403, ...VAST_PROBLEMS),
      },
    }),
    async (c) => c.json({ instances: (await listOurInstances(deps)).map(instanceView) }, 200),
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/instances/{id}",
      summary: "Read one of our instances (live from Vast)",
      request: { params: InstanceIdParamSchema },
      responses: {
        200: {
          description: "The instance.",
          content: { "application/json": { schema: InstanceViewSchema } },
        },
        ...problemResponses(400, 401, 403, 404, ...VAST_PROBLEMS),
      },
    }),
    async (c) => c.json(instanceView(await getOurInstance(deps, c.req.valid("param").id)), 200),
  );

  for (const action of ["stop", "start"] as const) {
    app.openapi(
      createRoute({
        ...base,
        method: "post",
        path: `/v1/instances/{id}/${action}`,
        summary: action === "stop" ? "Stop one of our instances" : "Start one of our stopped instances",
        description:
          action === "stop"
            ? "The GPU stops billing; the disk still does. An instance a live job holds is then ended by the reaper on its next run."
            : "Vast starts it again when the machine's GPU is free.",
        request: { params: InstanceIdParamSchema },
        responses: {
          202: {
            description: "Vast accepted the request.",
            content: { "application/json": { schema: InstanceActionSchema } },
          },
          ...problemResponses(400, 401, 403, 404, ...VAST_PROBLEMS),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        await (action === "stop" ? stopOurInstance(deps, id) : startOurInstance(deps, id));
        deps.logger.info(`api: instance ${action}`, { instanceId: id, by: c.get("principal").name });
        return c.json({ instanceId: id, action, accepted: true as const }, 202);
      },
    );
  }

  app.openapi(
    createRoute({
      ...base,
      method: "delete",
      path: "/v1/instances/{id}",
      summary: "Terminate one of our instances",
      description:
        "Destroys it. One a live job holds ends that attempt through the teardown path (charged, the job moves on to another GPU when it may); any other is destroyed as a stray.",
      request: { params: InstanceIdParamSchema },
      responses: {
        200: {
          description: "Destroyed.",
          content: { "application/json": { schema: TerminatedInstanceSchema } },
        },
        ...problemResponses(400, 401, 403, 404, ...VAST_PROBLEMS),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const principal = c.get("principal");
      const result = await terminateOurInstance(
        deps,
        id,
        `terminated through the API (API key "${principal.name}")`,
      );
      deps.logger.info("api: instance terminated", { instanceId: id, held: result.held, by: principal.name });
      return c.json(result, 200);
    },
  );
}
