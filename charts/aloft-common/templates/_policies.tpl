{{/* HorizontalPodAutoscaler (stateless services), PodDisruptionBudget, NetworkPolicy, ServiceMonitor. */}}

{{- define "aloft.hpa" -}}
{{- $ctx := . -}}
{{- with $ctx.Values.autoscaling }}{{ if .enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "aloft.fullname" $ctx }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ .targetCPUUtilizationPercentage }}}
{{- end }}{{ end }}
{{- end -}}

{{- define "aloft.pdb" -}}
{{- $ctx := . -}}
{{- with $ctx.Values.podDisruptionBudget }}{{ if .enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
spec:
  {{- if hasKey . "minAvailable" }}
  minAvailable: {{ .minAvailable }}
  {{- else }}
  maxUnavailable: {{ .maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "aloft.selectorLabels" $ctx | nindent 6 }}
{{- end }}{{ end }}
{{- end -}}

{{/*
Ingress to the service ports only from Aloft's own pods of this release (part-of=aloft), from .from peers
(e.g. an ingress controller's namespace), or from anywhere when .allowExternal; the metrics port also from
.metricsFrom (Prometheus). Egress is left open: databases, object stores and the Kubernetes API live anywhere.
Call: include "aloft.networkPolicy" (dict "ctx" . "ports" $ports)
*/}}
{{- define "aloft.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $ports := .ports -}}
{{- with $ctx.Values.networkPolicy }}{{ if .enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "aloft.selectorLabels" $ctx | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        {{- range $ports }}
        - {port: {{ .port }}, protocol: TCP}
        {{- end }}
      {{- if not .allowExternal }}
      from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: aloft
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- with .from }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
    {{- with .metricsFrom }}
    - ports:
        - {port: http, protocol: TCP}
      from:
        {{- toYaml . | nindent 8 }}
    {{- end }}
{{- end }}{{ end }}
{{- end -}}

{{- define "aloft.serviceMonitor" -}}
{{- $ctx := . -}}
{{- with $ctx.Values.serviceMonitor }}{{ if .enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
    {{- with .labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "aloft.selectorLabels" $ctx | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ $ctx.Release.Namespace }}]
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .interval }}
      scrapeTimeout: {{ .scrapeTimeout }}
      {{- if eq (.scheme | default "http") "https" }}
      scheme: https
      tlsConfig: {insecureSkipVerify: true}   # the webhook's own CA, not the cluster's
      {{- end }}
{{- end }}{{ end }}
{{- end -}}
