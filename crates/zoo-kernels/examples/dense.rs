use rayon::prelude::*;
use std::time::Instant;
fn main() {
    let (m, k, n) = (32usize, 3776usize, 128usize);
    let a = vec![0.5f32; m * k];
    let b = vec![0.5f32; k * n];
    let mut c = vec![0.0f32; m * n];
    let time = |f: &mut dyn FnMut()| {
        let mut ts = vec![];
        for _ in 0..300 {
            let s = Instant::now();
            f();
            ts.push(s.elapsed().as_secs_f64() * 1e3);
        }
        ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        ts[150]
    };
    let cp = c.as_mut_ptr() as usize;
    let t_rayon = time(&mut || unsafe {
        gemm::gemm(
            m,
            n,
            k,
            cp as *mut f32,
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    });
    let t_split = time(&mut || {
        (0..2usize).into_par_iter().for_each(|h| unsafe {
            let n0 = h * n / 2;
            gemm::gemm(
                m,
                n / 2,
                k,
                (cp as *mut f32).add(n0),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr().add(n0),
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        })
    });
    let t_splitm = time(&mut || {
        (0..2usize).into_par_iter().for_each(|h| unsafe {
            let m0 = h * m / 2;
            gemm::gemm(
                m / 2,
                n,
                k,
                (cp as *mut f32).add(m0 * n),
                1,
                n as isize,
                false,
                a.as_ptr().add(m0 * k),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        })
    });
    let t_splitk = time(&mut || {
        let parts: Vec<Vec<f32>> = (0..2usize)
            .into_par_iter()
            .map(|h| unsafe {
                let k0 = h * k / 2;
                let mut c = vec![0.0f32; m * n];
                gemm::gemm(
                    m,
                    n,
                    k / 2,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr().add(k0),
                    1,
                    k as isize,
                    b.as_ptr().add(k0 * n),
                    1,
                    n as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                c
            })
            .collect();
        std::hint::black_box(parts);
    });
    println!(
        "rayon {t_rayon:.3} ms, split n {t_split:.3} ms, split m {t_splitm:.3}, split k {t_splitk:.3}"
    );
}
