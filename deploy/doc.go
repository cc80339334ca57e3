// Package deploy holds what runs weir in production: the container image
// build (Dockerfile: multi-stage, a static binary, non-root, for a
// read-only root file system) and Kubernetes manifests (kubernetes/:
// Deployment with readiness and liveness probes and a drain-aware
// termination, the config as a ConfigMap that weir reloads when it
// changes, Service, PodDisruptionBudget, HorizontalPodAutoscaler, and a
// Redis for the state instances share). Its tests check them: the
// manifests against the Kubernetes API's schemas with kubeconform, offline
// (testdata/kubernetes, made from the k8s.io/kubernetes module's OpenAPI
// document), and against weir's own config and behaviour.
package deploy
