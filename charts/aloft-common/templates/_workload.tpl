{{/*
The service's Deployment: non-root, read-only root filesystem (state and scratch on emptyDirs), probes on
/healthcheck, config mounted at /etc/aloft, a checksum annotation so a config change rolls the pods.
Call: include "aloft.deployment" (dict "ctx" . "config" $config "args" (list "serve") "ports" $ports)
with $ports a list of dicts {name, port}; the port named "http" serves /healthcheck and /metrics. Optional:
"volumes"/"volumeMounts" (the chart's own), "needsKubernetesApi" (mount the service account token),
"containerName", "scheme" (HTTPS: probes over TLS, as the webhook serves), "initContainers" (a list of {name, args}: the same image and config, run before the service).
*/}}
{{- define "aloft.podSpec" -}}
{{- $ctx := .ctx -}}
{{- $values := $ctx.Values -}}
{{- $secret := (($values.global | default dict).databasePasswordSecret | default dict) -}}
serviceAccountName: {{ include "aloft.serviceAccountName" $ctx }}
automountServiceAccountToken: {{ .needsKubernetesApi | default false }}
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $values.podSecurityContext | nindent 2 }}
{{- $main := .containerName | default (include "aloft.name" $ctx) }}
{{- with .initContainers }}
initContainers:
  {{- range . }}
  - name: {{ .name }}
    image: {{ include "aloft.image" $ctx }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      - name: ALOFT_CONFIG
        value: /etc/aloft/aloft.yaml
      - name: POD_NAMESPACE
        valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    resources:
      {{- toYaml $values.resources | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - {name: config, mountPath: /etc/aloft, readOnly: true}
      - {name: tmp, mountPath: /tmp}
  {{- end }}
{{- end }}
containers:
  - name: {{ $main }}
    image: {{ include "aloft.image" $ctx }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    {{- with $values.command }}
    command:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      - name: ALOFT_CONFIG
        value: /etc/aloft/aloft.yaml
      - name: POD_NAME
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      - name: POD_NAMESPACE
        valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
      {{- with $values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    ports:
      {{- range .ports }}
      - name: {{ .name }}
        containerPort: {{ .port }}
        protocol: TCP
      {{- end }}
    startupProbe:
      httpGet: {path: /healthcheck, port: http, scheme: {{ .scheme | default "HTTP" }}}
      periodSeconds: 2
      failureThreshold: 60
    readinessProbe:
      httpGet: {path: /healthcheck, port: http, scheme: {{ .scheme | default "HTTP" }}}
      periodSeconds: 5
      failureThreshold: 3
    livenessProbe:
      httpGet: {path: /healthcheck, port: http, scheme: {{ .scheme | default "HTTP" }}}
      periodSeconds: 10
      timeoutSeconds: 5
      failureThreshold: 6
    resources:
      {{- toYaml $values.resources | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - {name: config, mountPath: /etc/aloft, readOnly: true}
      - {name: data, mountPath: /var/lib/aloft}
      - {name: tmp, mountPath: /tmp}
      {{- if $secret.name }}
      - {name: database-password, mountPath: /etc/aloft/secrets/database, readOnly: true}
      {{- end }}
      {{- with .volumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $values.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: config
    configMap: {name: {{ include "aloft.fullname" $ctx }}-config}
  - name: data
    emptyDir: {}
  - name: tmp
    emptyDir: {medium: Memory, sizeLimit: 256Mi}
  {{- if $secret.name }}
  - name: database-password
    secret:
      secretName: {{ $secret.name }}
      items: [{key: {{ $secret.key | default "password" }}, path: password}]
  {{- end }}
  {{- with .volumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "aloft.deployment" -}}
{{- $ctx := .ctx -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
spec:
  {{- if not ($ctx.Values.autoscaling | default dict).enabled }}
  replicas: {{ $ctx.Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "aloft.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "aloft.labels" $ctx | nindent 8 }}

      annotations:
        checksum/config: {{ .config | sha256sum }}
        {{- with $ctx.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "aloft.podSpec" . | nindent 6 }}
{{- end -}}

{{- define "aloft.service" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "aloft.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
  {{- with $ctx.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $ctx.Values.service.type }}
  selector:
    {{- include "aloft.selectorLabels" $ctx | nindent 4 }}

  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .servicePort | default .port }}
      targetPort: {{ .name }}
      protocol: TCP
      {{- if hasPrefix "grpc" .name }}
      appProtocol: grpc
      {{- end }}
    {{- end }}
{{- end -}}

{{- define "aloft.serviceAccount" -}}
{{- $ctx := . -}}
{{- if $ctx.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "aloft.serviceAccountName" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aloft.labels" $ctx | nindent 4 }}
  {{- with $ctx.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}
