{{- define "webhook.configDefaults" -}}
webhook:
  host: 0.0.0.0
  listenPort: {{ .Values.ports.http }}
  serviceName: {{ include "aloft.fullname" . }}
  servicePort: 443
  secretName: {{ include "webhook.certSecretName" . }}
  certDir: /etc/webhook/certs
{{- end -}}

{{- define "webhook.certSecretName" -}}
{{- .Values.certSecretName | default (printf "%s-certs" (include "aloft.fullname" .)) -}}
{{- end -}}
