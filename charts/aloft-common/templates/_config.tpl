{{/*
The single YAML file the service reads (ALOFT_CONFIG), the same shape as config/aloft.yaml. Later layers win:
the chart's computed defaults (listen addresses, ports, peer endpoints), then .Values.global.config (sections every
service shares: database, storage, logger, otel), then the chart's own .Values.config. Lists are replaced whole.
Call: include "aloft.config" (dict "ctx" . "defaults" (include "<chart>.configDefaults" .))
*/}}
{{- define "aloft.config" -}}
{{- $ctx := .ctx -}}
{{- $defaults := fromYaml .defaults -}}
{{- $global := (($ctx.Values.global | default dict).config | default dict) -}}
{{- $merged := mustMergeOverwrite (dict) $defaults (deepCopy $global) (deepCopy ($ctx.Values.config | default dict)) -}}
{{- if and (($ctx.Values.global | default dict).databasePasswordSecret | default dict).name (hasKey (($merged.database | default dict)) "postgres") -}}
{{- $_ := set $merged.database.postgres "passwordPath" "/etc/aloft/secrets/database/password" -}}
{{- end -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "aloft.configmap" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "aloft.fullname" $ctx }}-config
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
data:
  aloft.yaml: |
    {{- .config | nindent 4 }}
{{- end -}}
