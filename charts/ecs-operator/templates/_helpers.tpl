{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "ecs-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, unless it already contains the chart name. */}}
{{- define "ecs-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ecs-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ecs-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ecs-operator.labels" -}}
helm.sh/chart: {{ include "ecs-operator.chart" . }}
{{ include "ecs-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: ecs-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ecs-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecs-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ecs-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "ecs-operator.leaseName" -}}
{{- default (include "ecs-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Rules for the objects the operator reconciles in the namespaces it watches. Used by the
ClusterRole (all namespaces) or by one Role per watched namespace.
*/}}
{{- define "ecs-operator.namespacedRules" -}}
# The custom resources: read and watch them, write only their status.
- apiGroups: ["ecs-operator.io"]
  resources: ["taskdefinitions", "services", "tasks", "clusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["ecs-operator.io"]
  resources: ["taskdefinitions/status", "services/status", "tasks/status", "clusters/status"]
  verbs: ["get", "patch"]
# One spec write: a Service with autoscaling and no desiredCount starts at minCapacity
# (the HPA needs the field to exist behind the scale subresource).
- apiGroups: ["ecs-operator.io"]
  resources: ["services"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on children need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on (e.g. OpenShift).
- apiGroups: ["ecs-operator.io"]
  resources: ["taskdefinitions/finalizers", "services/finalizers", "tasks/finalizers", "clusters/finalizers"]
  verbs: ["update"]
# What an ECS resource turns into (server-side apply = patch).
- apiGroups: ["apps"]
  resources: ["deployments", "daemonsets", "controllerrevisions"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods", "services", "serviceaccounts", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Optional integrations (External Secrets Operator, AWS Load Balancer Controller).
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["elbv2.k8s.aws"]
  resources: ["targetgroupbindings"]
  verbs: ["get", "list", "create", "patch", "delete"]
# Deployment strategies: lifecycle hooks that run as Jobs, and the HTTPRoute whose weights
# LINEAR and CANARY shift (Gateway API, optional).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "patch"]
# Events on the resources it reconciles.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Cluster-scoped objects: always a ClusterRole. */}}
{{- define "ecs-operator.clusterRules" -}}
# static PersistentVolumes for EFS volumes.
- apiGroups: [""]
  resources: ["persistentvolumes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Cluster status counts container instances (nodes) per capacity provider.
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list", "watch"]
# Namespace policy: ecs-operator.io/allow-host-features, allowed-service-accounts and the Pod
# Security label (metadata only).
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}
