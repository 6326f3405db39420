{{/* Names and labels shared by every Aloft chart. */}}

{{- define "aloft.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, e.g. aloft-admin; the release name alone when it already ends with the chart name. */}}
{{- define "aloft.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if hasSuffix .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The Service name of another Aloft chart of the same release (how services find each other). */}}
{{- define "aloft.peer" -}}
{{- $ctx := index . 0 -}}{{- $chart := index . 1 -}}
{{- if hasSuffix $chart $ctx.Release.Name -}}{{ $ctx.Release.Name }}{{- else -}}{{ printf "%s-%s" $ctx.Release.Name $chart }}{{- end -}}
{{- end -}}

{{- define "aloft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aloft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aloft.labels" -}}
{{ include "aloft.selectorLabels" . }}
app.kubernetes.io/part-of: aloft
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "aloft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aloft.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aloft.image" -}}
{{- $global := .Values.global | default dict -}}
{{- $globalImage := $global.image | default dict -}}
{{- $registry := .Values.image.registry | default $globalImage.registry -}}
{{- $tag := .Values.image.tag | default $globalImage.tag | default .Chart.AppVersion -}}
{{- if $registry -}}{{ printf "%s/%s:%s" $registry .Values.image.repository $tag }}{{- else -}}{{ printf "%s:%s" .Values.image.repository $tag }}{{- end -}}
{{- end -}}
