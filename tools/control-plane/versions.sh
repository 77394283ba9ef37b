# Pinned versions of the test control plane. Kubernetes is the EKS minor that infra/versions.ts
# defaults to (defaultKubernetesVersion); JobSet and Kueue are the chart versions infra/versions.ts
# pins. The wrapper modules' go.mod files must require exactly these (test/control-plane checks it).
KUBERNETES_VERSION=v1.35.4
ETCD_VERSION=v3.6.5
JOBSET_VERSION=v0.12.0
KUEUE_VERSION=v0.19.1
KWOK_VERSION=v0.8.0
CONTROL_PLANE_KEY="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_jobset-${JOBSET_VERSION}_kueue-${KUEUE_VERSION}_kwok-${KWOK_VERSION}"
