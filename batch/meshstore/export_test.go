package meshstore

// DeliverName exposes deliverName to the tests.
var DeliverName = deliverName
