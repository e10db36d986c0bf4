"""contour"""
