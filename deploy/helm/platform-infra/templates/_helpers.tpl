{{/* Labels on every resource of the chart. */}}
{{- define "infra.labels" -}}
app.kubernetes.io/part-of: steam-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* Where the Kafka cluster CA certificate is mounted in the platform's pods (KAFKA_SSL_CA_LOCATION). */}}
{{- define "infra.kafkaCaFile" -}}
/etc/steam-platform/kafka-ca/ca.crt
{{- end }}
