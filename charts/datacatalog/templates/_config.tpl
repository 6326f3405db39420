{{- define "datacatalog.configDefaults" -}}
stack:
  dataDir: /var/lib/aloft
datacatalog:
  host: 0.0.0.0
  httpPort: {{ .Values.ports.http }}
  grpcPort: {{ .Values.ports.grpc }}
{{- end -}}
