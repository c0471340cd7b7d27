module cpis

go 1.26.8
