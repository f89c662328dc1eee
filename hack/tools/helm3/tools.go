//go:build tools

// Package tools pins the helm 3 command this module builds (hack/tools/build.sh).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
