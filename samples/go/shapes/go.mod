module snapdiff.example/shapes

go 1.19
