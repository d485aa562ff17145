//! Reading classes out of spike counts (Diehl & Cook 2015): each neuron's
//! assigned class, and an image's predicted class.

/// Each neuron's class: the one with the highest mean spike count per
/// image of that class; −1 for a neuron that never fired. `counts` is
/// row-major images × neurons.
pub fn assign(counts: &[u32], labels: &[u8], neurons: usize, classes: usize) -> Vec<i32> {
    let mut sums = vec![0u64; classes * neurons];
    let mut images = vec![0u64; classes];
    for (row, &c) in counts.chunks_exact(neurons).zip(labels) {
        images[c as usize] += 1;
        for (s, &n) in sums[c as usize * neurons..][..neurons].iter_mut().zip(row) {
            *s += n as u64;
        }
    }
    (0..neurons)
        .map(|i| {
            let mut best = (-1, 0.0);
            for c in 0..classes {
                if images[c] > 0 {
                    let mean = sums[c * neurons + i] as f64 / images[c] as f64;
                    if mean > best.1 {
                        best = (c as i32, mean);
                    }
                }
            }
            best.0
        })
        .collect()
}

/// The class whose assigned neurons fire most on average for one image's
/// counts (the lowest such class on ties); −1 if none of them fired.
pub fn predict(assignments: &[i32], counts: &[u32], classes: usize) -> i32 {
    let mut sums = vec![0u64; classes];
    let mut members = vec![0u64; classes];
    for (&a, &n) in assignments.iter().zip(counts) {
        if a >= 0 {
            sums[a as usize] += n as u64;
            members[a as usize] += 1;
        }
    }
    let mut best = (-1, 0.0);
    for c in 0..classes {
        if members[c] > 0 {
            let mean = sums[c] as f64 / members[c] as f64;
            if mean > best.1 {
                best = (c as i32, mean);
            }
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::{assign, predict};

    #[test]
    fn assignment_is_the_class_of_highest_mean_count() {
        // 3 neurons, 4 images with labels 0, 0, 1, 1 (2 classes). Counts
        // (rows = images): [2, 0, 1], [4, 0, 1], [1, 0, 3], [1, 0, 1].
        // Means per class: neuron 0: class 0 (2+4)/2 = 3, class 1 1 -> 0;
        // neuron 1 never fires -> −1; neuron 2: class 0 1, class 1 2 -> 1.
        let counts = [2, 0, 1, 4, 0, 1, 1, 0, 3, 1, 0, 1];
        assert_eq!(assign(&counts, &[0, 0, 1, 1], 3, 2), vec![0, -1, 1]);
        // Means, not sums: class 0 has three images of 1 spike (mean 1),
        // class 1 one image of 2 (mean 2), though class 0's sum (3) is larger.
        assert_eq!(assign(&[1, 1, 1, 2], &[0, 0, 0, 1], 1, 2), vec![1]);
    }

    #[test]
    fn prediction_is_the_class_whose_neurons_fire_most_on_average() {
        // Assigned [0, 0, 1, −1]; counts [3, 1, 3, 9]: class 0 mean
        // (3+1)/2 = 2, class 1 mean 3; the unassigned neuron's 9 does not
        // count -> 1.
        assert_eq!(predict(&[0, 0, 1, -1], &[3, 1, 3, 9], 2), 1);
        // Ties go to the lower class: means 2 and 2 -> 0.
        assert_eq!(predict(&[0, 1], &[2, 2], 2), 0);
        // No assigned neuron fired: −1.
        assert_eq!(predict(&[0, 1, -1], &[0, 0, 5], 2), -1);
    }
}
