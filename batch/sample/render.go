package sample

import (
	"bytes"
	"encoding/csv"
)

// The bundled demographics.csv, and the copies of it and of
// authorities.csv in the repository's testdata, are written by
// gen_sample.go.
//go:generate go run gen_sample.go

// RenderDemographics renders the people table in the format of
// demographics.csv: go generate writes the embedded file from it, and the
// tests check that the embedded file is exactly the table that Returns uses.
func RenderDemographics() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	must(w.Write([]string{"nhs_number", "family_name", "given_name", "date_of_birth", "superseded_by", "sensitive", "date_of_death"}))
	for _, p := range people {
		sensitive := "N"
		if p.sensitive {
			sensitive = "Y"
		}
		must(w.Write([]string{p.nhs, p.family, p.given, p.dob, p.supersededBy, sensitive, p.death}))
	}
	w.Flush()
	must(w.Error())
	return b.Bytes()
}
