{{/* Names ------------------------------------------------------------------------------------ */}}
{{- define "spendwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spendwatch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>": call with (list $ "worker") */}}
{{- define "spendwatch.component" -}}
{{- printf "%s-%s" (include "spendwatch.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spendwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: call with (list $ "worker") */}}
{{- define "spendwatch.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "spendwatch.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "spendwatch.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ include "spendwatch.chart" $ }}
{{ include "spendwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/part-of: spendwatch
{{- with $.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "spendwatch.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "spendwatch.serviceAccountName" -}}
{{- $ := index . 0 -}}
{{- if $.Values.serviceAccount.create -}}
{{- include "spendwatch.component" . -}}
{{- else -}}
{{- default "default" $.Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Paths inside every container ------------------------------------------------------------- */}}
{{- define "spendwatch.configPath" -}}/etc/spendwatch/settings.yaml{{- end -}}
{{- define "spendwatch.secretsDir" -}}/var/run/secrets/spendwatch{{- end -}}

{{/* The history store: PostgreSQL from a Secret, else SQLite on the chart's volume ----------- */}}
{{- define "spendwatch.sqlite" -}}
{{- if not .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The API runs inside the alerter's pod when both share a SQLite file (one writer, one volume) */}}
{{- define "spendwatch.apiInAlerterPod" -}}
{{- if and .Values.api.enabled .Values.alerter.enabled (include "spendwatch.sqlite" .) -}}true{{- end -}}
{{- end -}}

{{- define "spendwatch.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "spendwatch.securityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* Environment ---------------------------------------------------------------------------- */}}
{{- define "spendwatch.kafkaEnv" -}}
{{- $k := .Values.kafka -}}
- name: SPENDWATCH_KAFKA
  value: {{ $k.bootstrapServers | quote }}
{{- if $k.topicPrefix }}
- name: SPENDWATCH_TOPIC_PREFIX
  value: {{ $k.topicPrefix | quote }}
{{- end }}
- name: SPENDWATCH_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if hasPrefix "SASL" $k.securityProtocol }}
- name: SPENDWATCH_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: SPENDWATCH_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.existingSecret }}
      key: {{ $k.sasl.usernameKey }}
- name: SPENDWATCH_KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/kafka-sasl/%s" (include "spendwatch.secretsDir" .) $k.sasl.passwordKey | quote }}
{{- end }}
{{- if $k.tls.existingSecret }}
{{- if $k.tls.caKey }}
- name: SPENDWATCH_KAFKA_SSL_CAFILE
  value: {{ printf "%s/kafka-tls/%s" (include "spendwatch.secretsDir" .) $k.tls.caKey | quote }}
{{- end }}
{{- if $k.tls.certKey }}
- name: SPENDWATCH_KAFKA_SSL_CERTFILE
  value: {{ printf "%s/kafka-tls/%s" (include "spendwatch.secretsDir" .) $k.tls.certKey | quote }}
{{- end }}
{{- if $k.tls.keyKey }}
- name: SPENDWATCH_KAFKA_SSL_KEYFILE
  value: {{ printf "%s/kafka-tls/%s" (include "spendwatch.secretsDir" .) $k.tls.keyKey | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "spendwatch.kafkaVolumeMounts" -}}
{{- $k := .Values.kafka -}}
{{- if hasPrefix "SASL" $k.securityProtocol }}
- name: kafka-sasl
  mountPath: {{ printf "%s/kafka-sasl" (include "spendwatch.secretsDir" .) }}
  readOnly: true
{{- end }}
{{- if $k.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ printf "%s/kafka-tls" (include "spendwatch.secretsDir" .) }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "spendwatch.kafkaVolumes" -}}
{{- $k := .Values.kafka -}}
{{- if hasPrefix "SASL" $k.securityProtocol }}
- name: kafka-sasl
  secret:
    secretName: {{ $k.sasl.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $k.sasl.passwordKey }}
        path: {{ $k.sasl.passwordKey }}
{{- end }}
{{- if $k.tls.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ $k.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "spendwatch.dbEnv" -}}
{{- if .Values.database.existingSecret }}
- name: SPENDWATCH_DB
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
{{- else }}
- name: SPENDWATCH_DB
  value: sqlite:////var/lib/spendwatch/history/history.db
{{- end }}
{{- end -}}

{{/* Volumes every pod has: the settings file and a writable /tmp (the root filesystem is read-only) */}}
{{- define "spendwatch.commonVolumeMounts" -}}
- name: config
  mountPath: /etc/spendwatch
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "spendwatch.commonVolumes" -}}
- name: config
  configMap:
    name: {{ include "spendwatch.component" (list . "config") }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "spendwatch.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* The dcgm-exporter the collector scrapes: its node's, through a node-local Service or the node address */}}
{{- define "spendwatch.dcgmUrl" -}}
{{- $l := .Values.collector.dcgm.nodeLocalService -}}
{{- if $l.enabled -}}
{{- printf "http://%s.%s.svc:%d/metrics" (include "spendwatch.component" (list . "dcgm-local")) $l.namespace (int $l.port) -}}
{{- else -}}
{{- .Values.collector.dcgm.url -}}
{{- end -}}
{{- end -}}

{{/* Cross-field checks JSON Schema cannot express --------------------------------------------- */}}
{{- define "spendwatch.validate" -}}
{{- if and .Values.worker.enabled (gt (int .Values.worker.replicas) (int .Values.worker.partitions)) -}}
{{- fail (printf "worker.replicas (%d) exceeds worker.partitions (%d): the extra workers would own no partition and sit idle; raise worker.partitions (the input topics' partition count) or lower worker.replicas" (int .Values.worker.replicas) (int .Values.worker.partitions)) -}}
{{- end -}}
{{- if and .Values.api.ingress.enabled (not .Values.api.enabled) -}}
{{- fail "api.ingress.enabled needs api.enabled: true (the Ingress routes to the API service)" -}}
{{- end -}}
{{- with .Values.settings }}{{- with .kafka }}
{{- range $key := list "sasl_password" "sasl_username" }}
{{- if hasKey $.Values.settings.kafka $key -}}
{{- fail (printf "settings.kafka.%s: credentials never go into values (they would be stored in a ConfigMap); put them in a Secret and set kafka.sasl.existingSecret" $key) -}}
{{- end -}}
{{- end -}}
{{- end }}{{- end -}}
{{- $names := dict -}}
{{- range .Values.billing.jobs -}}
{{- if hasKey $names .name -}}
{{- fail (printf "billing.jobs: the name %q is used twice; each job needs its own name (it names the CronJob and its ledger)" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- end -}}
{{- end -}}
