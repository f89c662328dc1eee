{{- define "pco.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pco.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "pco.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "pco.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pco.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pco.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: partner-center-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "pco.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pco.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pco.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pco.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: set the name of an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pco.providerNamespace" -}}
{{- default .Release.Namespace .Values.operator.providerNamespace -}}
{{- end -}}

{{- define "pco.image" -}}
{{- $repo := .Values.image.repository -}}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The security contexts of the operator and the emulator alike: values podSecurityContext and
securityContext (the restricted Pod Security profile by default; a key set to null is unset). */}}
{{- define "pco.podSecurityContext" -}}
{{- toYaml (.Values.podSecurityContext | default dict) -}}
{{- end -}}

{{- define "pco.containerSecurityContext" -}}
{{- toYaml (.Values.securityContext | default dict) -}}
{{- end -}}

{{/* operator.regionTable keys are composite region codes; the schema's propertyNames error names
a random path of the values, so the key is checked here and named in the message. */}}
{{- define "pco.checkRegionTable" -}}
{{- range $code, $countries := .Values.operator.regionTable -}}
{{- if not (regexMatch "^[A-Z]{3,5}$" $code) -}}
{{- fail (printf "operator.regionTable: key %q is not a composite region code: use 3 to 5 upper-case letters (e.g. ANZ: [AU, NZ]); single countries (e.g. NZ) are built in and need no entry" $code) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Renders the YAML documents of one file copied from elsewhere in the repository (files/, see
hack/sync-chart.sh) with the chart's labels added, so the chart never hand-copies that YAML.
Arguments: (dict "ctx" $ "path" "files/..." "annotations" (dict ...) "replace" (dict "${X}" "value"))
*/}}
{{- define "pco.renderFile" -}}
{{- $ctx := .ctx -}}
{{- $text := $ctx.Files.Get .path -}}
{{- if not $text -}}{{- fail (printf "chart file %s is missing: run hack/sync-chart.sh" .path) -}}{{- end -}}
{{- range $from, $to := (.replace | default dict) -}}
{{- $text = replace $from $to $text -}}
{{- end -}}
{{- $annotations := .annotations | default dict -}}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $text -1 -}}
{{- $obj := fromYaml $doc -}}
{{- if $obj.Error -}}{{- fail (printf "%s: %s" $.path $obj.Error) -}}{{- end -}}
{{- if $obj.kind }}
---
{{- $meta := $obj.metadata -}}
{{- $_ := set $meta "labels" (merge (dict) (include "pco.labels" $ctx | fromYaml) ($meta.labels | default dict)) -}}
{{- if $annotations -}}
{{- $_ := set $meta "annotations" (merge (dict) $annotations ($meta.annotations | default dict)) -}}
{{- end }}
{{ toYaml $obj }}
{{- end -}}
{{- end -}}
{{- end -}}
