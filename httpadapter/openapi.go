package httpadapter

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 document of the API, served at GET /openapi.json.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns a copy of the OpenAPI 3.1 document (JSON) describing every route of the
// handler New returns, its request bodies, responses and the problem+json error shape. Paths
// are relative to where the handler is mounted.
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDocument...)
}

// openAPI serves GET /openapi.json.
func (h *handler) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
	return nil
}
