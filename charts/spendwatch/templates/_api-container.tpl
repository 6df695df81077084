{{/* The `spendwatch serve` container, in its own Deployment or in the alerter's pod (SQLite). */}}
{{- define "spendwatch.apiContainer" -}}
{{- $a := .Values.api -}}
- name: api
  image: {{ include "spendwatch.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - serve
    - --config
    - {{ include "spendwatch.configPath" . }}
    - --host
    - 0.0.0.0
    - --port
    - {{ $a.port | quote }}
    {{- range $a.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    {{- include "spendwatch.dbEnv" . | trim | nindent 4 }}
    {{- if $a.tokenSecret.name }}
    - name: SPENDWATCH_API_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ $a.tokenSecret.name }}
          key: {{ $a.tokenSecret.key }}
    {{- end }}
    {{- include "spendwatch.kafkaEnv" . | nindent 4 }}
  ports:
    - name: http
      containerPort: {{ $a.port }}
      protocol: TCP
  readinessProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: 10
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    initialDelaySeconds: 20
    periodSeconds: 30
    failureThreshold: 4
  resources:
    {{- toYaml $a.resources | nindent 4 }}
  securityContext:
    {{- include "spendwatch.securityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "spendwatch.commonVolumeMounts" . | nindent 4 }}
    {{- if include "spendwatch.sqlite" . }}
    - name: history
      mountPath: /var/lib/spendwatch/history
    {{- end }}
    {{- with (include "spendwatch.kafkaVolumeMounts" . | trim) }}{{ . | nindent 4 }}{{ end }}
{{- end -}}
