//go:build tools

// Package tools pins Prometheus' promtool, which checks and unit-tests the chart's alerting rules
// (hack/tools/build.sh, tests/observability.rs).
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
