//! Anomaly-detection metrics, with anomaly as the positive class and a
//! higher score meaning more anomalous.

/// Groups of positions in `order` (indices sorted by score) whose scores
/// are equal, as `start..=end` pairs.
fn ties(order: &[usize], scores: &[f32]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        out.push((i, j));
        i = j + 1;
    }
    out
}

/// Area under the ROC curve: the probability that a random anomaly scores
/// higher than a random normal item (ties count half). `None` when either
/// class is missing.
pub fn auroc(scores: &[f32], anomalous: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), anomalous.len());
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mid-ranks, 1-based, with ties averaged.
    let mut rank_sum_pos = 0.0f64;
    for (i, j) in ties(&idx, scores) {
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += mid * idx[i..=j].iter().filter(|&&k| anomalous[k]).count() as f64;
    }
    let p = anomalous.iter().filter(|&&a| a).count() as f64;
    let n = anomalous.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return None;
    }
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// Area under the precision-recall curve as average precision: the mean,
/// over the anomalies, of the precision at the threshold that first
/// includes them (as scikit-learn's `average_precision_score`).
pub fn auprc(scores: &[f32], anomalous: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), anomalous.len());
    let p = anomalous.iter().filter(|&&a| a).count();
    if p == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0f64, 0.0f64);
    // All items tied at a score enter together.
    for (i, j) in ties(&idx, scores) {
        for &k in &idx[i..=j] {
            seen += 1;
            tp += anomalous[k] as usize;
        }
        let recall = tp as f64 / p as f64;
        let precision = tp as f64 / seen as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Some(ap)
}

/// Points (false-positive rate, true-positive rate) of the ROC curve, from
/// (0, 0) to (1, 1).
pub fn roc_curve(scores: &[f32], anomalous: &[bool]) -> Vec<(f64, f64)> {
    let p = anomalous.iter().filter(|&&a| a).count().max(1) as f64;
    let n = (anomalous.len() - anomalous.iter().filter(|&&a| a).count()).max(1) as f64;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, j) in ties(&idx, scores) {
        for &k in &idx[i..=j] {
            if anomalous[k] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        out.push((fp / n, tp / p));
    }
    out
}

/// Counts at a threshold: an item is flagged when its score is above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    pub tn: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tp: usize,
}

impl Confusion {
    pub fn at(scores: &[f32], anomalous: &[bool], threshold: f32) -> Self {
        let flags: Vec<bool> = scores.iter().map(|&s| s > threshold).collect();
        Self::of(&flags, anomalous)
    }

    /// The confusion of given flags (`true` = flagged) against the labels.
    pub fn of(flags: &[bool], anomalous: &[bool]) -> Self {
        let mut c = Confusion {
            tn: 0,
            fp: 0,
            fn_: 0,
            tp: 0,
        };
        for (&f, &a) in flags.iter().zip(anomalous) {
            match (f, a) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }

    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }

    pub fn accuracy(&self) -> f64 {
        Self::ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// `[[tn, fp], [fn, tp]]`: rows are the truth (normal, anomaly), columns
    /// the verdict.
    pub fn matrix(&self) -> [[usize; 2]; 2] {
        [[self.tn, self.fp], [self.fn_, self.tp]]
    }
}

/// The threshold with the best F1 on labelled scores (flagged: score >
/// threshold), and that F1; `None` without both classes. A hint for the
/// user, computed on the test labels: choosing by it would overfit them.
pub fn best_f1_threshold(scores: &[f32], anomalous: &[bool]) -> Option<(f32, f64)> {
    let positives = anomalous.iter().filter(|&&a| a).count();
    if positives == 0 || positives == anomalous.len() || scores.len() != anomalous.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut best: Option<(f32, f64)> = None;
    let mut tp = 0usize;
    for k in 1..order.len() {
        tp += anomalous[order[k - 1]] as usize;
        // Flag the top k only where the k-th score is above the next one.
        let next = scores[order[k]];
        if scores[order[k - 1]] <= next {
            continue;
        }
        let f1 = 2.0 * tp as f64 / (k + positives) as f64;
        if best.is_none_or(|(_, b)| f1 > b) {
            best = Some((next, f1));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_f1_threshold_flags_exactly_the_top_scores_it_should() {
        let scores = [0.1, 0.9, 0.8, 0.2, 0.85, 0.3];
        let labels = [false, true, true, false, false, true];
        let (t, f1) = best_f1_threshold(&scores, &labels).unwrap();
        let c = Confusion::at(&scores, &labels, t);
        assert!(
            (c.f1() - f1).abs() < 1e-12,
            "the F1 it states is the F1 at its threshold"
        );
        // Flagging the top 3 gives F1 2/3; all but the lowest two gives
        // 2·3/(4 + 3) = 0.857, the best.
        assert_eq!(t, 0.2);
        assert!((f1 - 6.0 / 7.0).abs() < 1e-12, "{f1}");
        assert!(best_f1_threshold(&scores, &[false; 6]).is_none());
        // Ties are flagged together or not at all.
        let (t, _) = best_f1_threshold(&[0.5, 0.5, 0.1], &[true, false, false]).unwrap();
        assert_eq!(t, 0.1);
    }

    #[test]
    fn auroc_and_auprc_by_hand() {
        let y = [false, false, true, true];
        // Perfect ranking.
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        assert_eq!(auprc(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        // Reversed.
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &y), Some(0.0));
        // One swap: pairs (a, n) correctly ordered 3 of 4.
        assert_eq!(auroc(&[0.1, 0.35, 0.3, 0.9], &y), Some(0.75));
        // Order 0.9(+), 0.35(-), 0.3(+), 0.1(-): AP = 0.5·1 + 0.5·(2/3).
        let ap = auprc(&[0.1, 0.35, 0.3, 0.9], &y).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-12, "{ap}");
        // All tied: 0.5.
        assert_eq!(auroc(&[0.5; 4], &y), Some(0.5));
        assert_eq!(auroc(&[0.5, 0.6], &[false, false]), None);
        let roc = roc_curve(&[0.1, 0.2, 0.8, 0.9], &y);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert_eq!(roc[2], (0.0, 1.0));
    }

    #[test]
    fn confusion_and_f1() {
        let y = [false, false, true, true, true];
        let s = [0.1, 0.6, 0.7, 0.2, 0.9];
        let c = Confusion::at(&s, &y, 0.5);
        assert_eq!(c.matrix(), [[1, 1], [1, 2]]);
        assert_eq!(c.accuracy(), 0.6);
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
    }
}
