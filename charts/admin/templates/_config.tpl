{{/* Admin's computed config: listen on all interfaces, data planes from values (or this release's propeller). */}}
{{- define "admin.configDefaults" -}}
stack:
  dataDir: /var/lib/aloft
admin:
  host: 0.0.0.0
  httpPort: {{ .Values.ports.http }}
  grpcPort: {{ .Values.ports.grpc }}
  dataPlanes:
    {{- if .Values.dataPlanes }}
    {{- toYaml .Values.dataPlanes | nindent 4 }}
    {{- else }}
    - name: default
      endpoint: {{ include "aloft.peer" (list . "propeller") }}:8092
    {{- end }}
{{- if .Values.clusterResources.enabled }}
cluster_resources:
  templatePath: /etc/aloft-clusterresource/templates
  adminEndpoint: {{ include "aloft.fullname" . }}:{{ .Values.ports.grpc }}
  {{- with .Values.clusterResources.templateData }}
  templateData:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.clusterResources.customData }}
  customData:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
