{{- define "console.configDefaults" -}}
console:
  host: 0.0.0.0
  httpPort: {{ .Values.ports.http }}
  adminEndpoint: {{ .Values.adminEndpoint | default (printf "http://%s:8088" (include "aloft.peer" (list . "admin"))) }}
{{- end -}}
