package agent

import "net/http"

// routes lists every endpoint of the API in one place.
func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(s.metrics))

	mux.Handle("PUT /v1/clusters/{name}", s.bounded(s.putCluster))
	mux.Handle("GET /v1/clusters/{name}", s.bounded(s.getCluster))
	mux.Handle("DELETE /v1/clusters/{name}", s.bounded(s.deleteCluster))
	mux.Handle("GET /v1/clusters", s.bounded(s.listClusters))

	mux.Handle("PUT /v1/mirrors/{name}", s.bounded(s.putMirror))
	mux.Handle("GET /v1/mirrors/{name}", s.bounded(s.getMirror))
	mux.Handle("DELETE /v1/mirrors/{name}", s.bounded(s.deleteMirror))
	mux.Handle("GET /v1/mirrors/{name}/status", s.bounded(s.mirrorStatus))
	mux.Handle("GET /v1/mirrors/{name}/groups/{group}", s.bounded(s.groupCheckpoints))
	mux.Handle("GET /v1/mirrors", s.bounded(s.listMirrors))

	mux.Handle("PUT /v1/policies/{name}", s.bounded(s.putPolicy))
	mux.Handle("GET /v1/policies/{name}", s.bounded(s.getPolicy))
	mux.Handle("DELETE /v1/policies/{name}", s.bounded(s.deletePolicy))
	mux.Handle("GET /v1/policies", s.bounded(s.listPolicies))
	mux.Handle("GET /v1/policies/{name}/active", s.bounded(s.active))
	mux.Handle("POST /v1/policies/{name}/failover", s.unbounded(s.failover))
	mux.Handle("GET /v1/policies/{name}/forecast", s.bounded(s.forecast))
	mux.Handle("POST /v1/policies/{name}/reverse", s.unbounded(s.reverse))

	mux.Handle("/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, agentapiErr(codeNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path))
	})))
}
