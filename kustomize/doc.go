// Package kustomize holds no production code: its tests render every overlay with the
// kustomize library (the same code as the pinned kustomize CLI) and assert the deployment
// rules for each environment, so a change that drops one fails `go test`.
package kustomize
