package agent

import "net/http"

// routes lists every endpoint of the API in one place.
func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(s.metrics))

	mux.Handle("PUT /v1/clusters/{name}", s.auth(http.HandlerFunc(s.putCluster)))
	mux.Handle("GET /v1/clusters/{name}", s.auth(http.HandlerFunc(s.getCluster)))
	mux.Handle("DELETE /v1/clusters/{name}", s.auth(http.HandlerFunc(s.deleteCluster)))
	mux.Handle("GET /v1/clusters", s.auth(http.HandlerFunc(s.listClusters)))

	mux.Handle("PUT /v1/mirrors/{name}", s.auth(http.HandlerFunc(s.putMirror)))
	mux.Handle("GET /v1/mirrors/{name}", s.auth(http.HandlerFunc(s.getMirror)))
	mux.Handle("DELETE /v1/mirrors/{name}", s.auth(http.HandlerFunc(s.deleteMirror)))
	mux.Handle("GET /v1/mirrors/{name}/status", s.auth(http.HandlerFunc(s.mirrorStatus)))
	mux.Handle("GET /v1/mirrors/{name}/groups/{group}", s.auth(http.HandlerFunc(s.groupCheckpoints)))
	mux.Handle("GET /v1/mirrors", s.auth(http.HandlerFunc(s.listMirrors)))

	mux.Handle("PUT /v1/policies/{name}", s.auth(http.HandlerFunc(s.putPolicy)))
	mux.Handle("GET /v1/policies/{name}", s.auth(http.HandlerFunc(s.getPolicy)))
	mux.Handle("DELETE /v1/policies/{name}", s.auth(http.HandlerFunc(s.deletePolicy)))
	mux.Handle("GET /v1/policies", s.auth(http.HandlerFunc(s.listPolicies)))
	mux.Handle("GET /v1/policies/{name}/active", s.auth(http.HandlerFunc(s.active)))
	mux.Handle("POST /v1/policies/{name}/failover", s.auth(http.HandlerFunc(s.failover)))
	mux.Handle("GET /v1/policies/{name}/forecast", s.auth(http.HandlerFunc(s.forecast)))
	mux.Handle("POST /v1/policies/{name}/reverse", s.auth(http.HandlerFunc(s.reverse)))

	mux.Handle("/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, agentapiErr(codeNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path))
	})))
}
