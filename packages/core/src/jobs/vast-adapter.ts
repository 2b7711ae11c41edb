/**
 * `VastPort` over `VastAIService`: the service already has the port's shape; the adapter adds
 * authorizing our SSH public key on an adopted instance.
 */
import type { VastAIService } from "../vast";
import type { VastPort } from "./ports";

export function vastPortFromService(service: VastAIService, sshPublicKey: string): VastPort {
  return {
    searchOffers: (request) => service.searchOffers(request),
    provisionInstance: (input) => service.provisionInstance(input),
    getInstanceStatus: (instanceId) => service.getInstanceStatus(instanceId),
    findInstanceByLabel: (label) => service.findInstanceByLabel(label),
    listInstances: (options) => service.listInstances({ onPage: options?.onPage }),
    terminateInstance: (instanceId, options) => service.terminateInstance(instanceId, options),
    stopInstance: (instanceId) => service.stopInstance(instanceId),
    startInstance: (instanceId) => service.startInstance(instanceId),
    getInstanceLogs: (instanceId, tail) => service.getInstanceLogs(instanceId, tail),
    authorizeSshKey: (instanceId) => service.client.attachSshKey(instanceId, sshPublicKey),
  };
}
