package chart

// Labels along a time axis are packed into rows stacked away from the axis
// (row 0 nearest). Each label hangs on a leader line drawn from the axis
// to its row, so besides keeping texts apart the packer tries to keep a
// leader from running through another label's text.

const (
	maxLabelRows = 6
	labelGap     = 8.0 // between texts in one row
	leaderGap    = 4.0 // between a leader and its text
)

// box is a label of width w hanging on a leader at x.
type box struct {
	x, w float64
	row  int
	// end puts the text left of the leader, for labels near the right edge.
	end bool
}

// span is the horizontal extent of the text (not the leader).
func (b box) span() (float64, float64) {
	if b.end {
		return b.x - leaderGap - b.w, b.x - leaderGap
	}
	return b.x + leaderGap, b.x + leaderGap + b.w
}

// packLabels assigns rows to labels given in axis order, keeping texts
// within [lo, hi] where they fit. walls are vertical lines that cross
// every row (the "today" marker). Greedy placement depends on order, so
// it packs left to right and right to left (which yields a staircase with
// every leader left of the texts below it) and keeps the better result:
// fewer crossings, then fewer rows.
func packLabels(xs, ws []float64, lo, hi float64, walls []float64) []box {
	var best []box
	bestScore := 0
	for _, reverse := range []bool{false, true} {
		boxes := make([]box, len(xs))
		placed := make([]box, 0, len(xs))
		for j := range xs {
			i := j
			if reverse {
				i = len(xs) - 1 - j
			}
			b := chooseRow(box{x: xs[i], w: ws[i]}, placed, walls, lo, hi)
			placed = append(placed, b)
			boxes[i] = b
		}
		score := 0
		for i, b := range boxes {
			score += overlaps(b, boxes[:i], walls, true)
		}
		score = score*100 + rowCount(boxes)
		if best == nil || score < bestScore {
			best, bestScore = boxes, score
		}
	}
	return best
}

// chooseRow places b in the lowest row where its text overlaps no text
// and crosses no leader or wall, on either side of its leader (right
// preferred, left when the right side would run past hi); failing that in
// the lowest row where texts do not overlap; failing that in the row with
// the fewest overlaps.
func chooseRow(b box, placed []box, walls []float64, lo, hi float64) box {
	fitsRight, fitsLeft := b.x+leaderGap+b.w <= hi, b.x-leaderGap-b.w >= lo
	var sides []bool // values of end to try
	switch {
	case fitsRight && fitsLeft:
		sides = []bool{false, true}
	case fitsLeft:
		sides = []bool{true}
	default:
		sides = []bool{false} // too wide for either side: let it run right
	}
	b.end = sides[0]
	for _, strict := range []bool{true, false} {
		for r := range maxLabelRows {
			for _, end := range sides {
				c := box{x: b.x, w: b.w, row: r, end: end}
				if overlaps(c, placed, walls, strict) == 0 {
					return c
				}
			}
		}
	}
	fewest := len(placed) + 1
	for r := range maxLabelRows {
		c := box{x: b.x, w: b.w, row: r, end: b.end}
		if n := overlaps(c, placed, nil, false); n < fewest {
			b, fewest = c, n
		}
	}
	return b
}

// overlaps counts the texts b's text overlaps in its row and, when
// strict, the leaders and walls that would run through a text.
func overlaps(b box, placed []box, walls []float64, strict bool) int {
	n := 0
	a0, a1 := b.span()
	for _, p := range placed {
		p0, p1 := p.span()
		switch {
		case p.row == b.row && a0 < p1+labelGap && p0 < a1+labelGap:
			n++
		case strict && p.row < b.row && p0 <= b.x && b.x <= p1:
			n++ // b's leader would run through p's text
		case strict && p.row > b.row && a0 <= p.x && p.x <= a1:
			n++ // p's leader would run through b's text
		}
	}
	if strict {
		for _, w := range walls {
			if a0-2 <= w && w <= a1+2 {
				n++
			}
		}
	}
	return n
}

func rowCount(boxes []box) int {
	n := 0
	for _, b := range boxes {
		n = max(n, b.row+1)
	}
	return n
}
