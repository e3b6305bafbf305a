package agent

import (
	"errors"
	"net/http"

	"github.com/kafka-failover/kafka-failover/internal/store"
)

// storeObject validates an object and stores it, and answers whether this
// request created it. When another request created the same object
// meanwhile, it is that one's: this request is checked again as an update
// of it, under the update rules, and stored as such or refused (409). It
// is never answered as a second create.
func storeObject(kind, name string, validate func() error, put func() (created bool, err error)) (bool, error) {
	if err := validate(); err != nil {
		return false, err
	}
	created, err := put()
	if !errors.Is(err, store.ErrCreatedMeanwhile) {
		return created, err
	}
	if err := validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return false, conflict(fe.field, "%s %q was created by another request meanwhile, and this one cannot update it: %s", kind, name, fe.msg)
		}
		return false, err
	}
	return put()
}

// putStatus is 201 for a PUT that created its object, 200 for an update.
func putStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}
