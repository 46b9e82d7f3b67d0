module github.com/trident-go/trident/bench

go 1.26.8

replace github.com/trident-go/trident => ../
