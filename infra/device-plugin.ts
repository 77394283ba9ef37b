/**
 * NVIDIA device plugin: advertises `nvidia.com/gpu` on GPU nodes. The AL2023 NVIDIA AMI has
 * the driver and container toolkit but not the plugin. Its DaemonSet must tolerate the GPU
 * taint; the chart's default affinity already requires `nvidia.com/gpu.present=true`, which
 * the NodePool sets, so GPU Feature Discovery/NFD are not needed.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_TAINT, SYSTEM_TAINT } from "./platform-objects/node-labels.ts";
import { pinnedRelease } from "./helm.ts";
import { charts } from "./versions.ts";

export const DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin";

export interface DevicePluginArgs {
  provider: k8s.Provider;
}

export function devicePluginValues(): Record<string, unknown> {
  return {
    gfd: { enabled: false },
    nfd: { enabled: false },
    tolerations: [
      { key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect },
      { key: SYSTEM_TAINT.key, operator: "Exists" },
    ],
    priorityClassName: "system-node-critical",
    // Explicitly off (0.19.0 turned them on; they clash with EFA, NVIDIA issue 1692).
    mofedEnabled: false,
    gdsEnabled: false,
    gdrcopyEnabled: false,
  };
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
  constructor(name: string, args: DevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("yunshi:infra:NvidiaDevicePlugin", name, {}, opts);
    pinnedRelease(
      "nvidia-device-plugin",
      charts.nvidiaDevicePlugin,
      { namespace: DEVICE_PLUGIN_NAMESPACE, createNamespace: true, values: devicePluginValues() },
      { parent: this, provider: args.provider },
    );
    this.registerOutputs({});
  }
}
