package sched

// Cycles returns the dependency cycles among jobs, each as the module names
// of one strongly connected component in input order (a module depending
// on itself is a cycle of one), components ordered by their first member.
// Dependencies on names that are not jobs play no part.
func Cycles(jobs []Job) [][]string {
	byName := map[string][]int{}
	for i, j := range jobs {
		k := Key(j.Group, j.Name)
		byName[k] = append(byName[k], i)
	}
	edges := make([][]int, len(jobs))
	self := make([]bool, len(jobs))
	for i, j := range jobs {
		for _, d := range splitDeps(j.Deps) {
			for _, t := range byName[Key(j.Group, d)] {
				edges[i] = append(edges[i], t)
				if t == i {
					self[i] = true
				}
			}
		}
	}

	// Tarjan's algorithm; graphs here are a few dozen modules, so the
	// recursion depth is no concern.
	index := make([]int, len(jobs))
	low := make([]int, len(jobs))
	onStack := make([]bool, len(jobs))
	for i := range index {
		index[i] = -1
	}
	var stack []int
	comp := make([]int, len(jobs))
	var comps [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var c []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp[w] = len(comps)
			c = append(c, w)
			if w == v {
				break
			}
		}
		comps = append(comps, c)
	}
	for v := range jobs {
		if index[v] < 0 {
			visit(v)
		}
	}

	var out [][]string
	emitted := make([]bool, len(comps))
	for v := range jobs {
		c := comp[v]
		if emitted[c] || len(comps[c]) == 1 && !self[v] {
			continue
		}
		emitted[c] = true
		var names []string
		for w := range jobs {
			if comp[w] == c {
				names = append(names, jobs[w].Name)
			}
		}
		out = append(out, names)
	}
	return out
}
