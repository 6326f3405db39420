{{/*
Database migrations as a Helm hook Job, run before install and every upgrade rolls the Deployment (the service's
`migrate` command: Alembic, its own version table). Hooks run before the release's ConfigMap exists, so the Job
gets its own copy of the config (<fullname>-migrate) as a hook too (created first, by weight). `serve` also
migrates on start, so an embedded SQLite database needs no Job: the hook is rendered only with migrations.enabled.
Call: include "aloft.migrations" (dict "ctx" . "config" $config)
*/}}
{{- define "aloft.migrations" -}}
{{- $ctx := .ctx -}}
{{- if $ctx.Values.migrations.enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "aloft.fullname" $ctx }}-migrate
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
data:
  aloft.yaml: |
    {{- .config | nindent 4 }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "aloft.fullname" $ctx }}-migrate
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: migrations
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 6
  ttlSecondsAfterFinished: 86400
  template:
    metadata:
      labels:
        {{- include "aloft.selectorLabels" $ctx | nindent 8 }}
        app.kubernetes.io/component: migrations
        app.kubernetes.io/part-of: aloft
    spec:
      restartPolicy: OnFailure
      {{- $pod := fromYaml (include "aloft.podSpec" (dict "ctx" $ctx "args" (list "migrate") "ports" (list))) }}
      {{- $container := first $pod.containers }}
      {{- $_ := unset $container "ports" }}
      {{- $_ := unset $container "startupProbe" }}
      {{- $_ := unset $container "readinessProbe" }}
      {{- $_ := unset $container "livenessProbe" }}
      {{- $_ := unset $pod "serviceAccountName" }}
      {{- $_ := set $pod "containers" (list $container) }}
      {{- range $pod.volumes }}{{ if eq .name "config" }}{{ $_ := set .configMap "name" (printf "%s-migrate" (include "aloft.fullname" $ctx)) }}{{ end }}{{ end }}
      {{- toYaml $pod | nindent 6 }}
{{- end }}
{{- end -}}
