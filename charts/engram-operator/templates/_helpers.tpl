{{/* Chart name, truncated to a DNS label. */}}
{{- define "engram-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped name: the release name alone if it already contains the chart name. */}}
{{- define "engram-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "engram-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "engram-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "engram-operator.labels" -}}
{{ include "engram-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: engram-stream
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "engram-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "engram-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "engram-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "engram-operator.engineImage" -}}
{{- printf "%s:%s" .Values.engineImage.repository (default .Chart.AppVersion .Values.engineImage.tag) -}}
{{- end -}}

{{/* Labels of the hook pods and their RBAC: the release's, but not the operator's selector labels. */}}
{{- define "engram-operator.hookLabels" -}}
app.kubernetes.io/name: {{ include "engram-operator.name" . }}-hooks
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: engram-stream
app.kubernetes.io/component: helm-hook
{{- end -}}

{{- define "engram-operator.hooksServiceAccountName" -}}
{{- printf "%s-hooks" (include "engram-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Where `helm test` creates its scratch EngramStream: the namespace the operator watches. */}}
{{- define "engram-operator.testNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}

{{/*
Whether the EngramStream CRD exists and belongs to no Helm release of this name and namespace
(`kubectl apply -f crds/` before `helm install`): then the chart leaves it alone instead of failing
on Helm's ownership check. Empty (false) when there is no cluster to look at (helm template).
*/}}
{{- define "engram-operator.crdManagedElsewhere" -}}
{{- $crd := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" "engramstreams.engram.io" -}}
{{- if $crd -}}
{{- $annotations := $crd.metadata.annotations | default dict -}}
{{- if not (and (eq (get $annotations "meta.helm.sh/release-name") .Release.Name) (eq (get $annotations "meta.helm.sh/release-namespace") .Release.Namespace)) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}
