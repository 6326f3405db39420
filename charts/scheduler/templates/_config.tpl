{{- define "scheduler.configDefaults" -}}
stack:
  dataDir: /var/lib/aloft
scheduler:
  host: 0.0.0.0
  httpPort: {{ .Values.ports.http }}
  grpcPort: {{ .Values.ports.grpc }}
  adminEndpoint: {{ .Values.adminEndpoint | default (printf "%s:8089" (include "aloft.peer" (list . "admin"))) }}
{{- end -}}
