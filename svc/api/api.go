// Package api embeds the service's OpenAPI document, svc/api/openapi.yaml, so that tests
// can hold real responses to it and the binary could serve it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
