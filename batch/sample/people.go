package sample

// person is one record of the sample demographics (PDS) extract.
type person struct {
	tag          string // how returns.go names this person; "" when no return does
	nhs          string
	family       string
	given        string
	dob          string // YYYY-MM-DD; "" when unknown
	supersededBy string
	sensitive    bool
	death        string // YYYY-MM-DD; "" when alive
}

// people is the sample demographics extract, in file order: demographics.csv
// is exactly this table (a test renders it and compares; go generate
// ./batch/sample rewrites the file and its copy in testdata).
// Children in the demo's plans were born 2012-2023 (the 18th-birthday
// candidates d-18-* excepted), so they stay under 18 and the demo's returns
// stay valid until the end of 2030; mothers (UCPP) were born 1985-2000. Every
// number is in the 999 test range with a valid check digit; UnknownNHS is
// valid too but deliberately absent.
var people = []person{
	// Darlington (841): the clean FULL return and the DELTA after it.
	{"tp", "9990276579", "Hartwell", "Maisie", "2016-05-12", "", false, ""},     // published test patient: CPP with Darlington, LAC with Camden
	{"d-cpp-2", "9993765570", "Ashdown", "Alfie", "2016-03-05", "", false, ""},  // CPP, deleted by the DELTA
	{"d-cpp-3", "9994812866", "Brackley", "Amara", "2018-12-06", "", false, ""}, // CPP ended a month ago
	{"d-lac-1", "9995860155", "Carrow", "Arlo", "2018-03-06", "", false, ""},    // LAC, ended by the DELTA
	{"d-lac-2", "9996907449", "Dunmore", "Bea", "2017-06-24", "", false, ""},
	{"d-new", "9997954734", "Elsworth", "Cai", "2014-03-22", "", false, ""},        // new CPP in the DELTA
	{"d-18-2026", "9999002021", "Farrant", "Darcy", "2008-02-29", "", false, ""},   // 29 February birth: 18 on 1 March 2026
	{"d-18-2027", "9990049319", "Gillow", "Eben", "2009-02-14", "", false, ""},     // 18th-birthday candidates: Returns picks the one
	{"d-18-2028", "9991096604", "Halloran", "Elodie", "2010-02-01", "", false, ""}, // who turned 18 most recently before the extract
	{"d-18-2029", "9992143894", "Ingham", "Ezra", "2011-01-20", "", false, ""},
	{"d-18-2030", "9993191183", "Jessop", "Faye", "2012-01-10", "", false, ""},
	{"d-ucpp-1", "9994238477", "Kettering", "Bethan", "1987-02-23", "", false, ""}, // UCPP, due in 45 days
	{"d-ucpp-2", "9995285762", "Lanyon", "Carys", "1999-09-01", "", false, ""},     // UCPP, due 10 days ago: visible until due + 28

	// Camden (202): the FULL return with bad rows.
	{"c-01", "9996333051", "Mawdsley", "Finlay", "2023-04-07", "", false, ""},
	{"c-02", "9997380347", "Northam", "Freya", "2013-09-28", "", false, ""},
	{"c-03", "9998427630", "Oakridge", "Gethin", "2021-03-19", "", false, ""},
	{"c-04", "9999474926", "Penhale", "Harper", "2017-11-23", "", false, ""},
	{"c-05", "9990522219", "Quarrie", "Idris", "2014-01-16", "", false, ""},
	{"c-06", "9991569502", "Rudd", "Isla", "2019-01-01", "", false, ""},
	{"c-07", "9992616792", "Stainton", "Jago", "2016-04-19", "", false, ""},
	{"c-08", "9993664081", "Thorley", "Kezia", "2012-02-03", "", false, ""},
	{"c-09", "9994711377", "Upton", "Kit", "2018-03-21", "", false, ""},
	{"c-10", "9995758660", "Varley", "Lark", "2014-06-18", "", false, ""},
	{"c-m1", "9996805956", "Wetherall", "Danielle", "2000-10-24", "", false, ""},        // UCPP
	{"c-fold", "9997853245", "O’Neill", "Aoife", "2017-07-19", "", false, ""},           // sent as o'neill / AOIFE: equal after folding
	{"c-p005", "9998900530", "Okonkwo", "Tobi", "2023-01-07", "", false, ""},            // sent as Whitfield (adopted name): P005
	{"c-dead", "9999947824", "Yardley", "Lowen", "2021-07-02", "", false, "2026-10-03"}, // date of death: P006
	{"c-w002", "9990995117", "Abara", "Mabli", "2016-09-06", "", false, ""},             // CPP sent with a due date: W002
	{"c-r004", "9992042400", "Bhandari", "Nell", "2012-05-27", "", false, ""},           // plan type CIN: R004
	{"c-r005", "9993089699", "Chaudhry", "Niamh", "2019-05-26", "", false, ""},          // start 31/02/2026: R005
	{"c-r006", "9994136984", "Demir", "Orla", "2020-05-13", "", false, ""},              // end before start: R006
	{"c-r008", "9995184273", "Eze", "Fatima", "1994-11-05", "", false, ""},              // UCPP without a due date: R008
	{"c-r009", "9996231569", "Fofana", "Otis", "2012-06-12", "", false, ""},             // two CPP rows: R009 on both
	{"c-sens", "9997278852", "Gashi", "Perrin", "2017-08-20", "", true, ""},             // sensitive: CPR02
	{"c-dob", "9998326141", "Haddad", "Quinn", "2015-04-07", "", false, ""},             // sent as 4/7/2015 (month first): CPR03
	{"c-r003", "9996501485", "Halloran", "Delyth", "2018-01-25", "", false, ""},         // sent with the last digit mistyped: R003
	{"c-r002", "9990116253", "Upton", "Olwen", "2021-09-14", "", false, ""},             // sent with the letter O for a zero: R002

	// Birmingham (330): 30 plans, then a truncated FULL return that is held.
	{"b-01", "9999373437", "Iqbal", "Rhian", "2020-09-26", "", false, ""},
	{"b-02", "9990420726", "Janowski", "Rosa", "2020-05-26", "", false, ""},
	{"b-03", "9991468013", "Kaur", "Sami", "2018-12-14", "", false, ""},
	{"b-04", "9992515309", "Lindqvist", "Seren", "2017-06-04", "", false, ""},
	{"b-05", "9993562599", "Mensah", "Tamsin", "2017-02-19", "", false, ""},
	{"b-06", "9994609882", "Nowicki", "Tegan", "2020-05-17", "", false, ""},
	{"b-07", "9995657171", "Osei", "Ula", "2022-08-03", "", false, ""},
	{"b-08", "9996704467", "Petrova", "Gemma", "1994-06-04", "", false, ""},
	{"b-09", "9997751752", "Quaye", "Wren", "2020-11-26", "", false, ""},
	{"b-10", "9999846335", "Rahman", "Yusuf", "2012-12-12", "", false, ""},
	{"b-11", "9990893624", "Sokolova", "Zara", "2012-02-19", "", false, ""},
	{"b-12", "9992988207", "Tembo", "Ioan", "2014-12-22", "", false, ""},
	{"b-13", "9994035495", "Usman", "Ada", "2012-01-17", "", false, ""},
	{"b-14", "9995082780", "Vasquez", "Bryn", "2019-06-04", "", false, ""},
	{"b-15", "9997177363", "Wojcik", "Cora", "2014-03-28", "", false, ""},
	{"b-16", "9998224659", "Yilmaz", "Hollie", "1996-09-24", "", false, ""},
	{"b-17", "9999271944", "Zielinski", "Dara", "2012-06-20", "", false, ""},
	{"b-18", "9990319235", "Brennock", "Esme", "2013-11-08", "", false, ""},
	{"b-19", "9991366520", "Cadwell", "Fenn", "2023-07-26", "", false, ""},
	{"b-20", "9992413816", "Dorrell", "Greer", "2014-04-11", "", false, ""},
	{"b-21", "9993461105", "Fairlie", "Hal", "2015-05-14", "", false, ""},
	{"b-22", "9994508393", "Greaves", "Ines", "2023-04-06", "", false, ""},
	{"b-23", "9995555689", "Hebden", "Jude", "2016-10-03", "", false, ""},
	{"b-24", "9996602974", "Kinsella", "Jade", "1987-05-24", "", false, ""},
	{"b-25", "9997650263", "Lomax", "Kenzie", "2015-01-20", "", false, ""},
	{"b-26", "9998697557", "Midgley", "Lyra", "2018-12-20", "", false, ""},
	{"b-27", "9999744842", "Pardoe", "Milo", "2021-07-16", "", false, ""},
	{"b-28", "9990792135", "Renwick", "Nia", "2015-11-17", "", false, ""},
	{"b-29", "9991839429", "Scarrow", "Ozzy", "2016-09-12", "", false, ""},
	{"b-30", "9992886714", "Tunstall", "Pip", "2018-05-18", "", false, ""},

	// Cambridgeshire (873): the XML FULL return.
	{"tp2", "9990275831", "Pennock", "Reuben", "2014-09-03", "", false, ""},     // published test patient: LAC
	{"x-fold", "9993934003", "Smith-Jones", "Zoë", "2021-10-28", "", false, ""}, // sent as SMITH JONES / Zoe + combining diaeresis: equal
	{"x-nodob", "9994981293", "Venn", "Rafe", "", "", false, ""},                // no date of birth: no 18th-birthday rule
	{"x-m1", "9996028585", "Whitlock", "Kirsty", "1991-01-02", "", false, ""},   // UCPP
	{"x-05", "9997075870", "Ashdown", "Sol", "2018-02-28", "", false, ""},
	{"x-06", "9999170455", "Brackley", "Tova", "2023-07-01", "", false, ""},

	// Merged records: chain-a -> chain-b -> chain-c, and sup-old -> sup-new.
	{"chain-a", "9990217742", "Elsworth", "Aled", "2016-11-14", "9991265031", false, ""}, // sent by Camden: CPR05 naming chain-c
	{"chain-b", "9991265031", "Elsworth", "Aled", "2016-11-14", "9992312327", false, ""},
	{"chain-c", "9992312327", "Elsworth", "Aled", "2016-11-14", "", false, ""},
	{"sup-old", "9993359610", "Gillow", "Cosmo", "2014-11-16", "9994406906", false, ""},
	{"sup-new", "9994406906", "Gillow", "Cosmo", "2014-11-16", "", false, ""},

	// Nobody's plans: the rest of the extract, as PDS holds far more people than CP-IS.
	{"", "9998596068", "Jessop", "Ffion", "2016-07-15", "", false, ""},
	{"", "9999643353", "Kettering", "Gwen", "2016-11-09", "", false, ""},
	{"", "9990690642", "Lanyon", "Leanne", "1998-09-20", "", false, ""},
	{"", "9991737936", "Mawdsley", "Huw", "2020-08-13", "", false, ""},
	{"", "9992785225", "Northam", "Ianto", "2020-12-12", "", false, ""},
	{"", "9993832510", "Oakridge", "Juno", "2022-12-09", "", false, ""},
	{"", "9994879804", "Penhale", "Kian", "2024-10-19", "", false, ""},
	{"", "9995927098", "Quarrie", "Nadia", "1995-08-22", "", false, ""},
	{"", "9996974383", "Rudd", "Lotte", "2020-01-12", "", false, ""},
	{"", "9998021677", "Stainton", "Merryn", "2020-08-08", "", false, ""},
	{"", "9999068960", "Thorley", "Nye", "2021-02-26", "", false, ""},
	{"", "9997548779", "Ingham", "Emrys", "2021-09-20", "", false, ""},
	{"", "9991163549", "Varley", "Priya", "1987-10-16", "", false, ""},
	{"", "9992210834", "Wetherall", "Pryce", "2011-03-14", "", false, ""},
	{"", "9993258121", "Yardley", "Rhodri", "2022-09-07", "", false, ""},
	{"", "9994305417", "Abara", "Sabine", "2012-10-12", "", false, ""},
	{"", "9995352702", "Bhandari", "Teilo", "2024-05-05", "", false, ""},
	{"", "9996399990", "Chaudhry", "Rhiannon", "1985-04-26", "", false, ""},
	{"", "9998494575", "Demir", "Una", "2021-12-27", "", false, ""},
	{"", "9999541860", "Eze", "Alfie", "2019-05-14", "", false, ""},
	{"", "9990589151", "Fofana", "Amara", "2017-08-10", "", false, ""},
	{"", "9991636447", "Gashi", "Arlo", "2019-10-05", "", false, ""},
	{"", "9992683732", "Haddad", "Shona", "1985-12-23", "", false, ""},
	{"", "9993731021", "Iqbal", "Bea", "2009-11-25", "", false, ""},
	{"", "9994778315", "Janowski", "Cai", "2021-11-12", "", false, ""},
	{"", "9995825600", "Kaur", "Darcy", "2016-05-23", "", false, ""},
	{"", "9996872890", "Lindqvist", "Eben", "2014-01-11", "", false, ""},
	{"", "9998967473", "Mensah", "Tasha", "1993-01-10", "", false, ""},
	{"", "9990014760", "Nowicki", "Elodie", "2020-04-03", "", false, ""},
	{"", "9992109343", "Osei", "Ezra", "2024-08-28", "", false, ""},
	{"", "9993156639", "Petrova", "Faye", "2014-02-19", "", false, ""},
	{"", "9994203924", "Quaye", "Finlay", "2022-01-28", "", false, ""},
	{"", "9995251213", "Rahman", "Yasmin", "1995-12-27", "", false, ""},
	{"", "9996298507", "Sokolova", "Freya", "2010-10-11", "", false, ""},
	{"", "9997345797", "Tembo", "Gethin", "2012-04-12", "", false, ""},
	{"", "9998393086", "Usman", "Harper", "2009-02-15", "", false, ""},
	{"", "9999440371", "Vasquez", "Idris", "2011-12-14", "", false, ""},
	{"", "9990487669", "Wojcik", "Amira", "1999-09-16", "", false, ""},
	{"", "9991534954", "Yilmaz", "Isla", "2014-07-20", "", false, ""},
	{"", "9992582243", "Zielinski", "Jago", "2017-02-13", "", false, ""},
	{"", "9993629537", "Brennock", "Kezia", "2012-10-23", "", false, ""},
	{"", "9994676822", "Cadwell", "Kit", "2025-03-12", "", false, ""},
}

// who returns the person tagged tag; it panics on a tag the table lacks (a
// programming error in this package, caught by its tests).
func who(tag string) person {
	for _, p := range people {
		if p.tag == tag {
			return p
		}
	}
	panic("sample: no person tagged " + tag)
}
