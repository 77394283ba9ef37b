/**
 * The COCO detection JSON MMDetection 3.x's CocoDataset reads, built from checked pictures.
 * `difficult` boxes become `iscrowd: 1`: CocoDataset turns that into ignore_flag = 1, so
 * the box is ignored by the assigners in training and by COCO evaluation, rather than lost
 * (mmdet/datasets/coco.py, parse_data_info). Category ids are 1-based, in class order.
 */

export interface CocoImage {
  readonly id: number;
  readonly file_name: string;
  readonly width: number;
  readonly height: number;
}

export interface CocoAnnotation {
  readonly id: number;
  readonly image_id: number;
  readonly category_id: number;
  /** [x, y, width, height], 0-based pixels. */
  readonly bbox: readonly [number, number, number, number];
  readonly area: number;
  readonly iscrowd: 0 | 1;
}

export interface CocoCategory {
  readonly id: number;
  readonly name: string;
}

export interface CocoDataset {
  readonly images: readonly CocoImage[];
  readonly annotations: readonly CocoAnnotation[];
  readonly categories: readonly CocoCategory[];
}

export interface PlacedBox {
  readonly classIndex: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly difficult: boolean;
}

export interface PlacedImage {
  /** Path relative to the subset's images folder (posix), exactly as on disk. */
  readonly fileName: string;
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly PlacedBox[];
}

/** Rounds to 1/100 pixel: exact for LabelImg's integers, no float noise in the JSON. */
const r2 = (v: number): number => Math.round(v * 100) / 100;

export function buildCoco(classes: readonly string[], images: readonly PlacedImage[]): CocoDataset {
  const out: { images: CocoImage[]; annotations: CocoAnnotation[] } = {
    images: [],
    annotations: [],
  };
  let annId = 0;
  images.forEach((img, i) => {
    const id = i + 1;
    out.images.push({ id, file_name: img.fileName, width: img.width, height: img.height });
    for (const b of img.boxes) {
      const bbox = [r2(b.x), r2(b.y), r2(b.w), r2(b.h)] as const;
      out.annotations.push({
        id: ++annId,
        image_id: id,
        category_id: b.classIndex + 1,
        bbox,
        area: r2(bbox[2] * bbox[3]),
        iscrowd: b.difficult ? 1 : 0,
      });
    }
  });
  return { ...out, categories: classes.map((name, i) => ({ id: i + 1, name })) };
}
