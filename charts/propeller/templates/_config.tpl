{{- define "propeller.configDefaults" -}}
stack:
  dataDir: /var/lib/aloft
propeller:
  host: 0.0.0.0
  httpPort: {{ .Values.ports.http }}
  grpcPort: {{ .Values.ports.grpc }}
  adminEndpoint: {{ .Values.adminEndpoint | default (printf "%s:8089" (include "aloft.peer" (list . "admin"))) }}
  datacatalogEndpoint: {{ .Values.datacatalogEndpoint | default (printf "%s:8090" (include "aloft.peer" (list . "datacatalog"))) }}
  cluster-id: {{ .Values.clusterId }}
{{- if .Values.manager.enabled }}
manager:
  {{- toYaml (omit .Values.manager "enabled") | nindent 2 }}
{{- end }}
{{- end -}}
