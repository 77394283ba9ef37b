/**
 * The subset of JobSet `jobset.x-k8s.io/v1alpha2` (JobSet v0.8+) that yunshi renders,
 * typed from the CRD in kubernetes-sigs/jobset
 * (config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml). The Job template is the
 * core batch/v1 type, validated against the Kubernetes OpenAPI schema in tests.
 */
import type { IJobSpec } from "kubernetes-models/batch/v1/JobSpec";
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";

/** The CRD's pattern for failure policy rule names. */
export const FAILURE_POLICY_RULE_NAME = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

export interface JobSet {
  apiVersion: "jobset.x-k8s.io/v1alpha2";
  kind: "JobSet";
  metadata: IObjectMeta;
  spec: {
    network?: {
      enableDNSHostnames?: boolean;
      subdomain?: string;
      publishNotReadyAddresses?: boolean;
    };
    failurePolicy?: {
      maxRestarts?: number;
      restartStrategy?: "Recreate" | "BlockingRecreate";
      rules?: Array<{
        name: string;
        action: "FailJobSet" | "RestartJobSet" | "RestartJobSetAndIgnoreMaxRestarts";
        onJobFailureReasons?: string[];
        /** RE2 patterns on the failed Job's condition message (JobSet v0.10+). */
        onJobFailureMessagePatterns?: string[];
        targetReplicatedJobs?: string[];
      }>;
    };
    replicatedJobs: Array<{
      name: string;
      replicas?: number;
      template: { metadata?: IObjectMeta; spec: IJobSpec };
    }>;
    suspend?: boolean;
    ttlSecondsAfterFinished?: number;
  };
}
