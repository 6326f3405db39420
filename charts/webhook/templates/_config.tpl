{{- define "webhook.configDefaults" -}}
webhook:
  host: 0.0.0.0
  listenPort: {{ .Values.ports.http }}
  serviceName: {{ include "aloft.fullname" . }}
  certDir: /etc/webhook/certs
{{- end -}}

{{- define "webhook.certSecretName" -}}
{{- .Values.certSecretName | default (printf "%s-certs" (include "aloft.fullname" .)) -}}
{{- end -}}

{{- define "webhook.configurationName" -}}
{{- .Values.webhookConfigurationName | default (include "aloft.fullname" .) -}}
{{- end -}}
